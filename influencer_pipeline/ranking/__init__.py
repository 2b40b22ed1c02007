"""Ranking: per-influencer performance statistics and the leaderboard report."""
