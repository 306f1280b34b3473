"""Slack: the Web API client (slack_sdk), the messages, the interactivity callback and the notifier.

Requests from Slack are verified by signature; the secrets come from Secrets Manager. Imports ``aws``
and ``domain``, never ``steps``.
"""
