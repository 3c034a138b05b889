"""Single sign-on with OpenID Connect (issue 19): the routes."""
