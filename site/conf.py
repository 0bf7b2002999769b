"""Sphinx configuration of the course site; site/build_site.py stages the pages and runs Sphinx.

Why Sphinx + myst-nb + sphinx-book-theme: all three are pure Python, well kept (the Executable
Books project; Jupyter Book 1 is this same stack under a CLI), and build offline. myst-nb renders
a notebook's *saved* outputs without executing it (``nb_execution_mode = "off"``), which is the
point here: the pages show the suite's run. The theme gives full-text search (Sphinx's own,
offline), previous/next links and Binder/Colab launch buttons from the repository URL. Jupyter
Book 2 moved to the MyST-MD engine (Node.js), which this project does not otherwise need.
"""

from __future__ import annotations

import os

project = "raykit"
author = "raykit contributors"
html_title = os.environ.get("RAYKIT_SITE_TITLE", "raykit")

# githubpages: writes .nojekyll, so that GitHub Pages serves _static/ and _images/.
extensions = ["myst_nb", "sphinx.ext.githubpages"]
# Never run a notebook: the site shows the outputs the test suite's run saved.
nb_execution_mode = "off"
nb_output_stderr = "show"
nb_merge_streams = True
myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
# Lessons jump from a title to a sub-heading now and then; not worth a warning on every build.
suppress_warnings = ["myst.header"]

html_theme = "sphinx_book_theme"
html_static_path = ["_static"]
html_css_files = ["raykit.css"]
html_last_updated_fmt = None
html_show_sourcelink = False

_repo = os.environ.get("RAYKIT_SITE_REPO_URL", "")
_branch = os.environ.get("RAYKIT_SITE_BRANCH_NAME", "main")
html_theme_options = {
    "home_page_in_toc": True,
    "show_navbar_depth": 1,
    "use_download_button": True,
    # The staged pages mirror the repository (notebooks/NN_name.ipynb), so launch links open
    # the repository's own notebook: path_to_docs is its root.
    "path_to_docs": "",
    "repository_branch": _branch,
}
if _repo:
    html_theme_options |= {
        "repository_url": _repo,
        "use_repository_button": True,
        "launch_buttons": {
            "notebook_interface": "jupyterlab",
            "binderhub_url": "https://mybinder.org",
            "colab_url": "https://colab.research.google.com",
        },
    }
