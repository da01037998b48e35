"""WildRobot reference data: motion clips, generated gaits, physics rollouts, Tier 0+ mining, analysis."""
