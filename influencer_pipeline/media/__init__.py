"""Video files and frames: fetching, probing, sampling, perceptual hashes, re-upload groups."""
