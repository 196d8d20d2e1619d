"""Facts: the one typed reader of probe data.

Everything that reads what the probes found goes through this package: ``facts.evidence``
(the probes' data with accessors that know each fact's fallback chain), ``facts.gpu`` (the
host GPU and ``torch.cuda`` facts) and ``facts.knowledge`` (the release table in
``data/releases.json``).  The diagnosis rules, the fixes and the report read through it;
it imports none of them.  Import the submodules you need: this package stays free of eager
imports so the knowledge base loads without the rest.
"""
