"""Writes names_corpus_2.json: a second set of labelled, SYNTHETIC business snippets for measuring name
redaction (seeded, reproducible: `python tests/gateway/make_names_corpus_2.py`). Every person is invented.

Held out from the name-list rules in ner.py: written before them, with people, templates and negatives
that appear nowhere else (not in names_corpus.json, make_pii_corpus.py or any deny-list). It adds what the
first set lacks: given names that are also English words used as names ("Mark Ellison", "Thanks, Will"),
the same words used as words in business text ("Mark the ticket as resolved", "May I have the figures"),
names after a title ("Ms Delaney"), possessives, sign-offs, and company names made of surnames ("Morgan
Stanley"), which are not people.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

R = random.Random(20261208)
OUT = Path(__file__).with_name("names_corpus_2.json")

PEOPLE = [  # (given, family): invented people, western order
    ("Margaret", "Holloway"), ("Dennis", "Whitaker"), ("Brenda", "Castillo"), ("Gregory", "Nakamura"),
    ("Harold", "Pemberton"), ("Oluwaseun", "Bello"), ("Priyanka", "Raghunathan"), ("Dmitri", "Volkov"),
    ("Sakura", "Ito"), ("Bongani", "Khumalo"), ("Matteo", "Conti"), ("Joaquín", "Medina"),
    ("Svetlana", "Orlova"), ("Kofi", "Mensah"), ("Tomasz", "Kowalczyk"), ("Nikhil", "Bhattacharya"),
    ("Ayesha", "Siddiqui"), ("Emre", "Demir"), ("Freya", "Lindqvist"), ("Hugo", "Lefebvre"),
    ("Ximena", "Quispe"), ("Aoife", "Gallen"), ("Rutendo", "Moyo"), ("Lucía", "Ferrer"),
    # given names that are English words too
    ("Mark", "Ellison"), ("Will", "Thornton"), ("May", "Lindgren"), ("Grant", "Whitfield"),
    ("Rose", "Delaney"), ("June", "Abernathy"), ("Bill", "Hargreaves"), ("Hope", "Sandoval"),
    ("Dawn", "Pritchard"), ("Frank", "Mbeki"),
]

TEMPLATES = [
    "Can you check whether {name} received the replacement router?",
    "{name} from procurement needs the signed purchase order today.",
    "Forward the escalation to {name} and copy the regional lead.",
    "Action items: {name} to update the forecast; legal to review clause 7.",
    "Our contact at the supplier is {name}; she prefers email.",
    "The refund was approved by {name} on Tuesday.",
    "Write a polite chaser to {name} about the overdue invoice.",
    "Attendees: {name}, the product owner and two engineers.",
    "Note from {name}: the pilot users want shorter training videos.",
    "Assign the onboarding checklist to {name} before the start date.",
]
TITLES = ["Ms", "Mr", "Dr", "Mrs"]
TITLE_TEMPLATES = [
    "{title} {family} asked us to cancel the second delivery.",
    "Please confirm the meeting with {title} {family} for Thursday.",
]
POSSESSIVE = ["{given}'s notes from the workshop are in the shared folder.",
              "Use {given}'s draft as the starting point for the proposal."]
SIGN_OFF = ["Thanks for the quick turnaround.\n\nBest,\n{given}",
            "Happy to help with the rollout.\nCheers, {given}",
            "Hi {given},\nthe quote is attached; let me know if the totals look right."]

NEGATIVES = [
    "May I have the Q3 revenue figures by Friday?",
    "Will the shipment arrive before the trade fair?",
    "Mark the ticket as resolved and notify the Billing team.",
    "Grant read access to the Finance folder for the new analysts.",
    "June sales beat April by twelve percent in the Nordic region.",
    "Bill the customer for the Premium tier from next month.",
    "Frank feedback from the pilot group helped us simplify the form.",
    "Dawn shift staff must badge in at the Warehouse entrance.",
    "Rose Gold phone cases are out of stock until November.",
    "Hope is not a strategy: list the risks and owners for each milestone.",
    "Open a case with Wells Fargo about the returned wire transfer.",
    "Morgan Stanley and Goldman Sachs sent their proposals for the bond issue.",
    "Johnson & Johnson renewed the supply contract for another year.",
    "The Ford Motor Company fleet order needs a revised delivery schedule.",
    "Lincoln Financial manages the pension plan for UK staff.",
    "Order twelve Dell laptops and three Lenovo docking stations.",
    "The Baker Street office closes early on Christmas Eve.",
    "Sales Ops wants the Pipeline Report refreshed every Monday.",
    "Classify each email as Complaint, Question, Praise or Spam.",
    "Customer Success reported a spike in churn after the Price Change.",
    "Summarise the Incident Report and suggest two Preventive Actions.",
    "Translate the Welcome Pack into Spanish and Portuguese.",
    "Check the Purchase Order against the Goods Received Note.",
    "The Service Level Agreement promises a response within four Business Hours.",
    "Prepare talking points for the All Hands on Thursday.",
    "Draft release notes for Version 2.4 of the Mobile App.",
    "Create a Pivot Table of Revenue by Region and Quarter.",
    "The Treasury team hedges Euro and Yen exposure every quarter.",
    "Ask the Help Desk to reset the Multi Factor Authentication token.",
    "Write an Executive Summary of the Vendor Risk Assessment.",
    "Our Chief Financial Officer signs off the Capital Expenditure budget.",
    "Tag each review with Delivery, Quality, Price or Support.",
    "Holiday Inn and Marriott quoted rates for the Sales Kickoff.",
    "The Green Team tracks Scope 3 emissions for the Annual Report.",
    "Please Note: the Expense Portal is down for maintenance on Saturday.",
    "Add the Account Number and Sort Code fields to the Supplier Form.",
    "Reply in British English and keep the Tone friendly.",
    "Compare Zoom, Webex and Google Meet on price per seat.",
    "Store the Signed Contract in the Legal folder, not in Downloads.",
    "Generate three Subject Lines for the Black Friday newsletter.",
]


def snippets() -> list[dict]:
    out = []
    for given, family in PEOPLE:
        forms = [(f"{given} {family}", "given family"), (given, "given name only"),
                 (f"{family}, {given}", "surname, given"), (f"{family.upper()} {given}", "SURNAME first in capitals")]
        for name, form in forms:
            out.append({"text": R.choice(TEMPLATES).format(name=name), "names": [name], "form": form})
        title = R.choice(TITLES)
        out.append({"text": R.choice(TITLE_TEMPLATES).format(title=title, family=family), "names": [family],
                    "form": "title and surname"})
        out.append({"text": R.choice(POSSESSIVE + SIGN_OFF).format(given=given), "names": [given],
                    "form": "given name in a sign-off or possessive"})
    out += [{"text": t, "names": [], "form": "negative"} for t in NEGATIVES]
    return out


def main() -> None:
    doc = {"description": "SYNTHETIC labelled snippets for measuring name redaction (PERSON), second set; every "
                          "person is invented. Generated by make_names_corpus_2.py (seeded). Held out from the "
                          "name-list rules (written before them); no name here is in the other corpora or any "
                          "deny-list. Negatives: business text with capitalised words that are not people, "
                          "including given names used as ordinary words and companies named after people.",
           "snippets": snippets()}
    OUT.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {len(doc['snippets'])} snippets to {OUT}")


if __name__ == "__main__":
    main()
