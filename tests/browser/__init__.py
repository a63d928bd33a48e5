"""Real-browser tests: the labeling widget in JupyterLab and Notebook 7."""
