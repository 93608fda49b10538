"""Artifact readers: the files a check reads, kept apart from the analysis of them.

A reader answers directory listings and file contents by absolute path. Today the only reader is the host
directory tree; container images plug in here with the same interface.
"""
