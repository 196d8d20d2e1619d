"""The wizard: a Textual app, one screen per step.

Nothing is imported here: ``tvwizard --help`` must not pay for Textual.  Build the app
with :func:`tvwizard.tui.app.make_app`.
"""
