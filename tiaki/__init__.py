"""tiaki: the shared pieces every service uses (kept small and boring)."""
