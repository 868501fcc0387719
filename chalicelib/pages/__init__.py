"""The customer's pages: server-rendered HTML for the links Fieldline texts (quote, invoice,
visit). Jinja2 templates under templates/ with autoescape on (render.py), one stylesheet and
one payment script under static/.

The pages call the same services as the public JSON routes; what they add is presentation,
form handling (form-encoded posts, redirect after post) and the headers a page needs.
"""
