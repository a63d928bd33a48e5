"""What a notebook imports: the labeling widget, the paying client and the wallet.

The widget, client and wallet arrive with the notebook-side issue; this package exists now
so the layout shows the architecture from the start.
"""
