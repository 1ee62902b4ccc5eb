"""One module per page: a class building the page's body from a Site, and the route function."""
