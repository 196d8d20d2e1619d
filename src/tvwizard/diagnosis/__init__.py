"""Diagnosis: turn probe evidence into findings with a root cause, and a checklist.

Import what you need from the submodules (``diagnosis.engine.diagnose``,
``diagnosis.knowledge``…): this package stays free of eager imports so the knowledge base
can be loaded without the rules.
"""
