"""Tools beside the pipeline: the synthetic demo generator and the evaluation against a truth file.

Installed with the project (the CLI's ``demo`` and ``evaluate`` commands use them); the runtime
package ``influencer_pipeline`` never imports them outside ``cli``.
"""
