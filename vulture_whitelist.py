"""Names vulture (``vulture --min-confidence 80 src vulture_whitelist.py``) takes
for unused but that a framework's signature requires."""

file  # click.ClickException.show(file=None), overridden in matcue.cli.app.FlagError
__self  # jinja2 SandboxedEnvironment.call(__self, ...), overridden in matcue.templating
