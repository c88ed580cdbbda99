"""Evaluation: the one inference path (predict_logits), metrics from logits, the leaderboard."""
