"""Views of the booking pages; each calls the contexts' selectors and services, nothing else."""
