"""The audit stage: from a crash in the logs to an evidence-backed incident report.

Pipeline: logs (read the shapes people have; a named pipe opened by ``pipe``, with a bounded wait for its
writer) → tracebacks (reassemble Python tracebacks) → groups (fingerprint
and pick the crash that stopped the service) → explain (map to the repository, classify, suspect commits, the
image's verdict) → report (a model the renderers in ``deploycheck.render`` turn into Markdown or HTML).
"""
