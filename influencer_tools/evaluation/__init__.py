"""Evaluation of predicted influencer assignments against a truth file."""
