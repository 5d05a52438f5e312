"""skinlight: Lightning + Hydra experiments for skin-lesion analysis."""
