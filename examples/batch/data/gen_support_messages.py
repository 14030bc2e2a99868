#!/usr/bin/env python3
"""Deterministic generator of synthetic customer-support messages (JSON Lines).

    python3 examples/batch/data/gen_support_messages.py > examples/batch/data/support_messages.jsonl
    python3 examples/batch/data/gen_support_messages.py --count 100000 --seed 7 > big.jsonl

Each line: {"id", "message", "customer_name", "channel", "customer_tier", "created_at",
"expected_intent"}. `message` is the input of customer-support.intent-classifier; together with
`customer_name` it also fills customer-support.reply-drafter's variables. `expected_intent` is
the category the template was written for (billing, technical, sales, retention, other) and is
ignored by the batch job. Same arguments, same bytes: only Python's seeded `random.Random` is used.
"""

import argparse
import json
import random
import sys

PRODUCTS = ["Pro plan", "Team plan", "Starter plan", "mobile app", "desktop app", "API",
            "analytics dashboard", "invoice module", "Slack integration", "SSO add-on"]
FEATURES = ["export to CSV", "two-factor login", "the calendar sync", "bulk upload",
            "dark mode", "the reporting page", "webhooks", "the search bar", "file sharing",
            "push notifications"]
ERRORS = ["Error 500", "ERR_TIMEOUT", "a blank white screen", "error code 0x80070005",
          "'Session expired'", "a spinning wheel that never stops", "HTTP 403",
          "'Something went wrong'", "E1042 sync failed", "a certificate warning"]
DEVICES = ["iPhone 14", "Pixel 8", "Windows 11 laptop", "MacBook Air", "Chromebook",
           "iPad", "Firefox on Ubuntu", "Safari", "Edge", "Galaxy S23"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December"]
COMPETITORS = ["a cheaper competitor", "another vendor", "an in-house tool", "a free alternative"]
FIRST = ["Ada", "Grace", "Linus", "Margaret", "Alan", "Katherine", "Dennis", "Barbara",
         "Ken", "Frances", "Tim", "Radia", "Edsger", "Hedy", "Guido", "Sophie", "Yukihiro",
         "Anita", "Bjarne", "Shafi", "Donald", "Leslie", "Fatima", "Mateo", "Priya", "Chen",
         "Olu", "Ingrid", "Tomás", "Aiko"]
LAST = ["Lovelace", "Hopper", "Torvalds", "Hamilton", "Turing", "Johnson", "Ritchie",
        "Liskov", "Thompson", "Allen", "Berners-Lee", "Perlman", "Dijkstra", "Lamarr",
        "van Rossum", "Wilson", "Matsumoto", "Borg", "Stroustrup", "Goldwasser", "Knuth",
        "Lamport", "Haddad", "García", "Raman", "Wei", "Adeyemi", "Nilsen", "Ruiz", "Sato"]
CHANNELS = ["email", "chat", "web-form", "phone-transcript", "app-review"]
TIERS = ["free", "starter", "team", "enterprise"]

TEMPLATES = {
    "billing": [
        "I was charged twice for my {product} this month. Can you refund the duplicate payment of ${amount}?",
        "My invoice for {month} shows ${amount} but my plan is only ${amount2}. Why the difference?",
        "Please send me a receipt for the payment I made on {month} {day}, I need it for my expense report.",
        "The credit card on file expired and now I see a failed payment warning. How do I update it?",
        "I think I was overcharged: the bill includes {seats} seats but we only have {seats2} users.",
        "Can I get a refund for the unused part of my annual subscription?",
        "We paid invoice #{invoice} by bank transfer on {month} {day} but it still shows as unpaid.",
        "Why did my card get charged ${amount} yesterday? I did not order anything new.",
        "Our finance team needs the invoices for the whole of last year as PDFs. Where can I download them?",
        "I was billed in USD but our contract says EUR. Please reissue invoice #{invoice}.",
        "The VAT number is missing on our invoice, can you add it and resend the bill?",
        "A refund was promised on {month} {day} and I still have not received it.",
    ],
    "technical": [
        "The {product} crashes with {error} every time I try {feature}.",
        "I can't log in since this morning, it says my password is wrong but I reset it twice.",
        "{feature} is not working on my {device}. It just shows {error}.",
        "Since the last update the {product} fails to load and I get {error}.",
        "Our webhook deliveries are failing with a timeout since {month} {day}.",
        "The sync between the {product} and our calendar is broken, events are duplicated.",
        "Uploading a file larger than {size} MB fails halfway with {error}.",
        "Login with SSO does not work for new users on our team, they get {error}.",
        "The app is extremely slow on my {device}, pages take a minute to open. Is there a bug?",
        "Exported CSV files are empty even though the report shows data. Looks like a bug.",
        "Notifications stopped working on my {device} after I changed my password.",
        "The API returns {error} for requests that worked fine last week.",
    ],
    "sales": [
        "What does the enterprise plan cost for {seats} users? We would need a quote.",
        "Is there a discount for non-profits or schools on the {product}?",
        "We are evaluating tools for our team of {seats}. Could we get a demo next week?",
        "How does the Team plan compare to the Pro plan? Thinking about an upgrade.",
        "Can I start a free trial of the {product} before we buy?",
        "Do you offer annual pricing? We want to purchase {seats} licenses.",
        "I'd like to open a new account for our second office. Who should I talk to?",
        "What is the price of the {product} if we add {seats} more seats mid-year?",
        "Our procurement team asks whether you offer volume discounts above {seats} seats.",
        "Could you send pricing for the SSO add-on together with the enterprise plan?",
        "We want to upgrade from Starter to Pro today. Is the price prorated?",
    ],
    "retention": [
        "Please cancel my subscription at the end of this billing period.",
        "I want to downgrade from the {product} to the free tier, we don't use it enough.",
        "Honestly the service is not worth the money anymore. How do I close my account?",
        "We are switching to {competitor} next month. What happens to our data if we cancel?",
        "I'm very unhappy with the recent changes and I'm thinking about leaving.",
        "How do I unsubscribe? I never use the {product} anymore.",
        "After three outages this month our team is dissatisfied and considering cancellation.",
        "Can you pause our account instead of cancelling it? Budget is tight this quarter.",
        "The price increase makes this not worth it for us, please downgrade us to Starter.",
        "Please close my account and delete my personal data.",
    ],
    "other": [
        "Do you have an office in {city}? I'd love to drop by.",
        "Who should I contact about a partnership or integration with your company?",
        "Is your company hiring? I could not find a careers page.",
        "I just wanted to say the new dashboard looks great, nice work team!",
        "What are your support hours over the holidays?",
        "Can I change the email address on my profile to my new work address?",
        "Where can I find your security whitepaper and privacy policy?",
        "Is there a community forum where users share templates?",
        "I'm writing an article about productivity tools, could I interview someone from your team?",
        "How do I change the language of the interface to German?",
        "Do you have a status page I can subscribe to?",
    ],
}
CITIES = ["Berlin", "Lisbon", "Toronto", "Singapore", "Nairobi", "Austin", "Melbourne", "Oslo"]
OPENERS = ["", "", "", "Hi, ", "Hello, ", "Hey there. ", "Good morning, ", "Hi team, "]
CLOSERS = ["", "", "", " Thanks!", " Thank you.", " Regards.", " Cheers.", " Please help."]
WEIGHTS = {"billing": 26, "technical": 28, "sales": 18, "retention": 14, "other": 14}


def message(rng, intent):
    template = rng.choice(TEMPLATES[intent])
    amount = rng.choice([9, 12, 19, 29, 49, 79, 99, 149, 299, 499])
    seats = rng.choice([5, 10, 12, 25, 40, 50, 100, 250])
    text = template.format(
        product=rng.choice(PRODUCTS), feature=rng.choice(FEATURES), error=rng.choice(ERRORS),
        device=rng.choice(DEVICES), month=rng.choice(MONTHS), day=rng.randint(1, 28),
        amount=amount, amount2=max(5, amount - rng.choice([5, 10, 20])), seats=seats,
        seats2=max(1, seats - rng.choice([1, 2, 5])), invoice=rng.randint(10000, 99999),
        size=rng.choice([10, 25, 50, 100, 500]), competitor=rng.choice(COMPETITORS),
        city=rng.choice(CITIES),
    )
    opener = rng.choice(OPENERS)
    if opener.endswith(", ") and not text.startswith(("I ", "I'", "API", "SSO")):
        text = text[0].lower() + text[1:]
    return opener + text + rng.choice(CLOSERS)


def records(count, seed):
    rng = random.Random(seed)
    intents = [intent for intent, weight in WEIGHTS.items() for _ in range(weight)]
    width = max(4, len(str(count)))
    for index in range(1, count + 1):
        intent = rng.choice(intents)
        yield {
            "id": f"msg-{index:0{width}d}",
            "message": message(rng, intent),
            "customer_name": f"{rng.choice(FIRST)} {rng.choice(LAST)}",
            "channel": rng.choice(CHANNELS),
            "customer_tier": rng.choice(TIERS),
            "created_at": f"2026-{rng.randint(1, 11):02d}-{rng.randint(1, 28):02d}T"
                          f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00Z",
            "expected_intent": intent,
        }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--seed", type=int, default=20261123)
    args = parser.parse_args()
    out = sys.stdout
    for record in records(args.count, args.seed):
        out.write(json.dumps(record, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
