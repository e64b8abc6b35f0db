"""pigen.recsys: ALS collaborative filtering, evaluation and the user -> condition bridge."""
