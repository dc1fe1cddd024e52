"""Engagement: Learn-Do-Teach, and (later) leaderboards, badges, hackathons, spaced repetition, nudges."""
