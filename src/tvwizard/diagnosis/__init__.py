"""Diagnosis: turn probe evidence into findings with a root cause, and a checklist.

Import what you need from the submodules (``diagnosis.engine.diagnose``,
``diagnosis.checks``…): this package stays free of eager imports.  The facts the rules
read (evidence, GPU facts, the release knowledge base) live in ``tvwizard.facts``.
"""
