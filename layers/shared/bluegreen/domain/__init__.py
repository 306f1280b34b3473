"""The pure domain: models, errors, decisions and rules, plans, analysis and hook verdicts.

Nothing here calls AWS or imports boto3 at run time: every function of this layer is tested as a
pure function (tests/fast). The layers above (``aws``, ``slack``, ``steps``) import it; it imports none
of them (import-linter contract in pyproject.toml).
"""
