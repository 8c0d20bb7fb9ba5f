"""What both plugins need and neither owns.

CLI entry and signals, errors, secret masking, fast JSON, proxies, worker threads, progress and
summaries. It imports neither plugin.
"""
