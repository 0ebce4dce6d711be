"""The owners' weekly report: where the cash is, what AR Radar did, and whether it worked."""
