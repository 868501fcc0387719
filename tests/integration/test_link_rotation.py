"""After the link secret rotates, the links already texted keep working until they expire, and
lists read on with the cursors handed out before."""

from __future__ import annotations

import pytest

from chalicelib.config import get_settings
from tests.integration.test_pages import customer_page, path_of, sent_quote, text

NEW = "a-new-link-secret-put-in-front"


@pytest.fixture
def rotate(monkeypatch):
    """Set the stage's link secrets (newest first), as FIELDLINE_LINK_SECRET would."""
    settings = get_settings()
    monkeypatch.setitem(settings.secret_values, "link_secret", ",".join(settings.link_secrets))

    def to(*secrets: str) -> None:
        settings.secret_values["link_secret"] = ",".join(secrets)

    return to


def test_a_texted_link_opens_after_the_secret_rotates(owner, rotate):
    # Given a quote link texted with the stage's secret
    old = get_settings().link_secrets[0]
    _, quote = sent_quote(owner)
    texted = path_of(quote["link"])
    # When the office rotates the secret: a new one in front of the old
    rotate(NEW, old)
    # Then the texted link still opens the quote, and a new link is signed with the new secret
    assert customer_page(owner, texted).status_code == 200
    _, fresh = sent_quote(owner, title="Second job")
    rotate(NEW)
    assert customer_page(owner, path_of(fresh["link"])).status_code == 200
    # And once the old secret is retired, the old link is simply not found
    retired = customer_page(owner, texted)
    assert retired.status_code == 404 and "This link is not valid" in text(retired)


def test_a_list_reads_on_with_a_cursor_from_before_the_rotation(owner, rotate):
    for name in ("Ann Able", "Ben Baker", "Cal Cole"):
        assert owner.post("/customers", {"name": name, "phone": "312-555-0199"}).status_code == 201
    first = owner.get("/customers?limit=2").data
    rotate(NEW, get_settings().link_secrets[0])
    rest = owner.get(f"/customers?limit=2&cursor={first['next_cursor']}")
    assert rest.status_code == 200 and rest.data["items"]
