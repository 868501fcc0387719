"""The card-on-file page: the customer saves a card (or, where Stripe's own Stripe.js runs, a US
bank account) for the business to charge later, after reading what they authorize.

Stripe.js confirms a SetupIntent on the business's connected account (`confirmCardSetup`);
Stripe then attaches the card to the customer's Stripe Customer and tells us
(`setup_intent.succeeded`), which keeps it on file. The page shows the methods already kept.
"""

from __future__ import annotations

from chalice import Response

from chalicelib.config import get_settings
from chalicelib.domain import clock, links
from chalicelib.domain.cards import LINK_KIND
from chalicelib.domain.errors import Conflict, NotFound, Unavailable
from chalicelib.pages import common, render
from chalicelib.pages.invoice import stripe_form
from chalicelib.pages.render import document, page
from chalicelib.services import cards


def show(token: str) -> Response:
    claims = links.verify(token, LINK_KIND, get_settings().link_secrets, clock.now())
    if claims is None:
        return common.link_problem(token, LINK_KIND)
    try:
        tenant = common.business(claims.tenant_id)
        view = cards.public_setup(token)
    except NotFound:
        return render.not_found()
    except Conflict:  # the business's Stripe account takes no cards (yet)
        return render.message_page(
            "Cards cannot be saved yet",
            f"{tenant.name} does not take cards online yet. Please contact them.",
            status=409,
            business=tenant.name,
            phone=tenant.phone,
        )
    except Unavailable:
        return render.message_page(
            "This page cannot be shown right now",
            "Please reload this page in a minute.",
            status=503,
        )
    form = stripe_form(view["client_secret"])
    body = document(
        "cards.html",
        f"Save a card with {tenant.name}",
        business=tenant.name,
        logo_url=tenant.logo_url,
        phone=tenant.phone,
        view=view,
        form=form,
    )
    return page(body, policy=form.policy if form else None)
