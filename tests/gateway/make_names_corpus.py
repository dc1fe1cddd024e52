"""Writes names_corpus.json: labelled, SYNTHETIC business snippets for measuring name redaction
(seeded, reproducible: `python tests/gateway/make_names_corpus.py`). Every person is invented.

Held out from the tuning: none of these names is in make_pii_corpus.py's lists or the deny-list the
tests configure, and the rules in ner.py were written before this corpus existed. It has names written
given-name first, surname first (with and without a comma, in capitals), names from many languages,
single given names, and negatives: business text full of capitalised words that are not people
(products, teams, places, months, job titles, companies, prompt instructions, product lines in capitals).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

R = random.Random(20261207)
OUT = Path(__file__).with_name("names_corpus.json")

# (given, family, style): style "western" (given family) or "family-first" (as commonly written)
PEOPLE = [
    ("Eleanor", "Whitcombe", "western"), ("Tobias", "Brennan", "western"), ("Marguerite", "Fontaine", "western"),
    ("Anders", "Holmqvist", "western"), ("Beatriz", "Carvalho", "western"), ("Giulia", "Marchetti", "western"),
    ("Katarzyna", "Wiśniewska", "western"), ("Jürgen", "Hoffmann", "western"), ("Siobhán", "Ní Bhriain", "western"),
    ("Chukwuemeka", "Obi", "western"), ("Adaeze", "Nwosu", "western"), ("Kwame", "Asante", "western"),
    ("Yusuf", "Al-Rashid", "western"), ("Leila", "Haddadi", "western"), ("Arjun", "Venkataraman", "western"),
    ("Ananya", "Krishnan", "western"), ("Santiago", "López Herrera", "western"), ("Valentina", "Ruiz", "western"),
    ("Mikhail", "Sokolov", "western"), ("Olga", "Petrenko", "western"), ("Declan", "Gallagher", "western"),
    ("Ngozi", "Adebayo", "western"), ("Hamza", "Qureshi", "western"), ("Elif", "Yılmaz", "western"),
    ("Lars", "Eriksen", "western"), ("Camille", "Rousseau", "western"), ("Rafael", "Domínguez", "western"),
    ("Thandiwe", "Dlamini", "western"), ("Rohan", "Mehta", "western"), ("Hannah", "Goldberg", "western"),
    ("Wang", "Xiuying", "family-first"), ("Zhang", "Wei", "family-first"), ("Li", "Na", "family-first"),
    ("Tanaka", "Hiroshi", "family-first"), ("Suzuki", "Yuki", "family-first"), ("Kim", "Minjun", "family-first"),
    ("Park", "Jiwoo", "family-first"), ("Nguyen", "Thi Lan", "family-first"), ("Tran", "Van Duc", "family-first"),
    ("Horváth", "Péter", "family-first"),
]

NAME_TEMPLATES = [
    "{name} called about the late delivery and asked for a refund.",
    "Please draft a reply to {name}, who complained about the invoice.",
    "Spoke with {name} today; follow up next week about the renewal.",
    "The complaint was raised by {name} on behalf of the finance team.",
    "Escalated to {name} (account manager) after the second outage.",
    "Meeting notes: {name} agreed to send the signed contract by Friday.",
    "Candidate: {name}. Interviewed for the Sales Operations role.",
    "Hi team, {name} will cover the support queue while I am away.",
    "Thanks, {name}! The shipment arrived this morning.",
    "Customer {name} says the card was charged twice in March.",
    "Reviewer: {name}\nScore: 4/5\nComment: clear onboarding, slow billing.",
    "From: {name}\nSubject: Order delayed\nThe parcel has not arrived yet.",
    "Per {name}'s request, the subscription was paused for two months.",
    "Summarise the feedback {name} left in the quarterly survey.",
    "Dear {name}, thank you for contacting Customer Success.",
]

NEGATIVES = [
    "Summarise this complaint in two sentences and classify it as billing, fraud or delivery.",
    "Classify the sentiment of the review as positive, negative or neutral.",
    "The Customer Success team moved the Net Promoter Score from 31 to 44 in Q3.",
    "Amazon Web Services billed us for the Frankfurt region in March and April.",
    "Translate the Terms of Service into German and French for the Paris office.",
    "The Sales Director approved the Enterprise plan discount for Acme Corporation.",
    "Rewrite the Return Policy so that Premium members get free shipping.",
    "Our Head of Marketing presents the Spring Campaign results on Monday.",
    "Extract the Order ID, Product Name and Delivery Date from the email below.",
    "Microsoft Teams and Google Drive are approved; ChatGPT Enterprise is under review.",
    "The Finance Department closes the books on the last Friday of each month.",
    "List three risks of the Data Migration project for the Steering Committee.",
    "Compare the Standard and Professional tiers for the London and Madrid branches.",
    "Draft an FAQ for the new Expense Policy that HR Business Partners can share.",
    "The Quarterly Business Review covers churn, ARR and the Customer Health Score.",
    "Explain the difference between Gross Margin and Operating Margin to the Board.",
    "Write a LinkedIn post announcing the Berlin Hackathon in September.",
    "Return JSON with the keys Priority, Category and Owner for this ticket.",
    "The Help Desk reopened ticket INC-2291 after the VPN outage in Singapore.",
    "Apple Pay and PayPal refunds take up to ten Business Days to appear.",
    "Reply with the label only: Billing, Fraud, Delivery or Other.",
    "The Compliance Officer flagged the Vendor Agreement for legal review.",
    "Create a Training Plan for new Account Executives joining in January.",
    "Salesforce, HubSpot and Zendesk export the CRM data every Sunday night.",
    "Summarize the Annual Report for the Audit Committee in five bullet points.",
    # product lines as a retail export writes them (invented in that style)
    "Product: ENAMEL GARDEN WATERING CAN BLUE\nPrice: £4.95 each",
    "Product: SET OF 4 LAVENDER SCENTED CANDLES\nPrice: £3.25 each",
    "Product: VINTAGE ROSE TEA CADDY\nPrice: £2.10 each",
    "Product: HANGING STAR LANTERN SILVER\nPrice: £1.65 each",
    "Product: KIDS DINOSAUR LUNCH BOX\nPrice: £1.95 each",
    "Product: PAPER BUNTING RETRO SPOT\nPrice: £2.95 each",
]


def written(given: str, family: str, style: str) -> list[str]:
    """The ways a person's name is written in business text."""
    if style == "family-first":
        return [f"{given} {family}", f"{given.upper()} {family}", f"{family} {given}"]
    return [f"{given} {family}", f"{family}, {given}", f"{family.upper()} {given}", f"{given}"]


def main() -> None:
    snippets = []
    for given, family, style in PEOPLE:
        for name in written(given, family, style):
            template = R.choice(NAME_TEMPLATES)
            snippets.append({"text": template.format(name=name), "names": [name],
                             "form": _form(name, given, family, style)})
    for text in NEGATIVES:
        snippets.append({"text": text, "names": [], "form": "negative"})
    doc = {"description": "SYNTHETIC labelled snippets for measuring name redaction (PERSON); every person is "
                          "invented. Generated by make_names_corpus.py (seeded). Held out: no name here is in the "
                          "other corpus or any deny-list. Negatives are business text with capitalised non-names.",
           "snippets": snippets}
    OUT.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {len(snippets)} snippets to {OUT}")


def _form(name: str, given: str, family: str, style: str) -> str:
    if name == given:
        return "given name only"
    if "," in name:
        return "surname, given"
    if name.split()[0].isupper():
        return "SURNAME first in capitals" if style == "western" else "family name first in capitals"
    if style == "family-first":
        return "family name first" if name.startswith(given) else "given name first (reordered)"
    return "given family"


if __name__ == "__main__":
    main()
