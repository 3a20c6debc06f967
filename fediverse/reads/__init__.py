"""The read side: timelines, post cards and the batched loads behind every page."""
