"""The status page's words in English and Italian (chosen by ?lang=, else Accept-Language)."""
from __future__ import annotations

from datetime import date, datetime

from ..vocabulary import Locale

LOCALES = tuple(Locale)

_MONTHS = {
    "en": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
    "it": ("gen", "feb", "mar", "apr", "mag", "giu", "lug", "ago", "set", "ott", "nov", "dic"),
}

TEXT = {
    "en": {
        "title": "System status", "lang_name": "English", "switch": "Italiano", "switch_lang": "it",
        "indicator.none": "All systems operational", "indicator.maintenance": "Service under maintenance",
        "indicator.minor": "Minor service outage", "indicator.major": "Partial system outage",
        "indicator.critical": "Major system outage",
        "status.operational": "Operational", "status.under_maintenance": "Under maintenance",
        "status.degraded_performance": "Degraded performance", "status.partial_outage": "Partial outage",
        "status.major_outage": "Major outage", "status.none": "No data",
        "incident.investigating": "Investigating", "incident.identified": "Identified",
        "incident.monitoring": "Monitoring", "incident.resolved": "Resolved",
        "maint.scheduled": "Scheduled", "maint.in_progress": "In progress", "maint.completed": "Completed",
        "maint.default.scheduled": "Maintenance is scheduled.",
        "maint.default.in_progress": "Scheduled maintenance is currently in progress.",
        "maint.default.completed": "The scheduled maintenance has been completed.",
        "components": "Components", "incidents": "Current incidents", "maintenance": "Scheduled maintenance",
        "no_incidents": "No incidents right now.", "history": "Last 90 days", "ago": "90 days ago",
        "today": "Today", "subscribe": "Subscribe to updates", "feed": "Atom feed", "affects": "Affects",
        "from": "From", "until": "until", "uptime_summary": "{name}, last 90 days: {summary}",
        "all_good": "no problems", "days": "{n} days", "day": "1 day", "skip": "Skip to content",
        "language": "Language", "api": "JSON API", "workaround": "What you can do meanwhile",
        "sub.title": "Subscribe to status updates", "sub.email": "Email", "sub.sms": "Text message (SMS)",
        "sub.address": "Email address", "sub.phone": "Mobile number (international form, e.g. +393471234567)",
        "sub.how": "How should we tell you?", "sub.which": "Which components? (none ticked: all of them)",
        "sub.submit": "Subscribe", "sub.check_email": "Almost done: we sent a confirmation link to {address}. "
        "It works once and expires in 24 hours.",
        "sub.enter_code": "We sent a code to {address}. Enter it here (it expires in 15 minutes).",
        "sub.code": "Code", "sub.verify": "Confirm", "sub.confirm_title": "Confirm your subscription",
        "sub.confirm_button": "Yes, send me status updates", "sub.done": "Thank you: you are subscribed.",
        "sub.invalid": "This link or code is not valid any more. Subscribe again from the status page.",
        "sub.too_many": "Too many attempts. Please try again later.", "sub.back": "Back to the status page",
        "sub.bad_email": "Please enter a valid email address.", "sub.bad_phone": "Please enter a valid mobile number.",
        "sub.bad_code": "That code is not right.", "sub.bad_channel": "Choose email or SMS.",
        "sub.bad_component": "Unknown component.",
        "sub.sms_prefix_limit": "Too many SMS sign-ups for numbers like this one today. Please try again "
        "tomorrow, or subscribe by email.",
        "sub.sms_day_limit": "SMS sign-ups are paused for today. Please try again tomorrow, or subscribe by email.",
        "confirm.subject": "Confirm your status updates subscription",
        "confirm.email": "Please confirm that you want status updates from {page}:\n\n{link}\n\n"
        "The link works once and expires in 24 hours. If you did not ask for this, ignore this email.",
        "confirm.sms": "{page} status updates: your code is {code}. It expires in 15 minutes.",
        "notice.subject": "Scheduled maintenance: {name}",
        "notice.text": "Scheduled maintenance \"{name}\" from {start} to {end}.{components}{message}\n{link}",
        "notice.components": " Affects: {names}.",
        "cancelled.subject": "Maintenance called off: {name}",
        "cancelled.text": "The maintenance \"{name}\" planned from {start} to {end} has been called off: "
        "nothing will change then.\n{link}",
    },
    "it": {
        "title": "Stato dei servizi", "lang_name": "Italiano", "switch": "English", "switch_lang": "en",
        "indicator.none": "Tutti i sistemi funzionano", "indicator.maintenance": "Servizio in manutenzione",
        "indicator.minor": "Disservizio lieve", "indicator.major": "Disservizio parziale",
        "indicator.critical": "Disservizio grave",
        "status.operational": "Funzionante", "status.under_maintenance": "In manutenzione",
        "status.degraded_performance": "Prestazioni ridotte", "status.partial_outage": "Disservizio parziale",
        "status.major_outage": "Disservizio grave", "status.none": "Nessun dato",
        "incident.investigating": "In analisi", "incident.identified": "Causa individuata",
        "incident.monitoring": "Sotto osservazione", "incident.resolved": "Risolto",
        "maint.scheduled": "Programmata", "maint.in_progress": "In corso", "maint.completed": "Completata",
        "maint.default.scheduled": "È prevista una manutenzione.",
        "maint.default.in_progress": "La manutenzione programmata è in corso.",
        "maint.default.completed": "La manutenzione programmata è terminata.",
        "components": "Componenti", "incidents": "Problemi in corso", "maintenance": "Manutenzioni programmate",
        "no_incidents": "Nessun problema in corso.", "history": "Ultimi 90 giorni", "ago": "90 giorni fa",
        "today": "Oggi", "subscribe": "Ricevi gli aggiornamenti", "feed": "Feed Atom", "affects": "Riguarda",
        "from": "Dal", "until": "al", "uptime_summary": "{name}, ultimi 90 giorni: {summary}",
        "all_good": "nessun problema", "days": "{n} giorni", "day": "1 giorno", "skip": "Vai al contenuto",
        "language": "Lingua", "api": "API JSON", "workaround": "Cosa potete fare nel frattempo",
        "sub.title": "Ricevi gli aggiornamenti sullo stato", "sub.email": "Email", "sub.sms": "SMS",
        "sub.address": "Indirizzo email", "sub.phone": "Numero di cellulare (forma internazionale, es. +393471234567)",
        "sub.how": "Come vuoi essere avvisato?", "sub.which": "Quali componenti? (nessuna scelta: tutti)",
        "sub.submit": "Iscriviti", "sub.check_email": "Quasi fatto: abbiamo inviato un link di conferma a {address}. "
        "Vale una sola volta e scade tra 24 ore.",
        "sub.enter_code": "Abbiamo inviato un codice a {address}. Inseriscilo qui (scade tra 15 minuti).",
        "sub.code": "Codice", "sub.verify": "Conferma", "sub.confirm_title": "Conferma l'iscrizione",
        "sub.confirm_button": "Sì, inviatemi gli aggiornamenti", "sub.done": "Grazie: l'iscrizione è attiva.",
        "sub.invalid": "Questo link o codice non è più valido. Iscriviti di nuovo dalla pagina di stato.",
        "sub.too_many": "Troppi tentativi. Riprova più tardi.", "sub.back": "Torna alla pagina di stato",
        "sub.bad_email": "Inserisci un indirizzo email valido.", "sub.bad_phone": "Inserisci un numero di cellulare valido.",
        "sub.bad_code": "Il codice non è corretto.", "sub.bad_channel": "Scegli email o SMS.",
        "sub.bad_component": "Componente sconosciuto.",
        "sub.sms_prefix_limit": "Troppe iscrizioni via SMS oggi per numeri come questo. Riprova domani, "
        "oppure iscriviti via email.",
        "sub.sms_day_limit": "Le iscrizioni via SMS sono sospese per oggi. Riprova domani, oppure iscriviti via email.",
        "confirm.subject": "Conferma l'iscrizione agli aggiornamenti di stato",
        "confirm.email": "Conferma di voler ricevere gli aggiornamenti di stato di {page}:\n\n{link}\n\n"
        "Il link vale una sola volta e scade tra 24 ore. Se non l'hai chiesto tu, ignora questa email.",
        "confirm.sms": "Aggiornamenti di stato {page}: il tuo codice è {code}. Scade tra 15 minuti.",
        "notice.subject": "Manutenzione programmata: {name}",
        "notice.text": "Manutenzione programmata \"{name}\" dalle {start} alle {end}.{components}{message}\n{link}",
        "notice.components": " Riguarda: {names}.",
        "cancelled.subject": "Manutenzione annullata: {name}",
        "cancelled.text": "La manutenzione \"{name}\" prevista dalle {start} alle {end} è stata annullata: "
        "in quell'orario non cambierà nulla.\n{link}",
    },
}


def pick_locale(requested: str | None, accept_languages) -> str:
    """?lang= when it names a locale we have, else the browser's best match, else English."""
    if requested in LOCALES:
        return requested
    return accept_languages.best_match(LOCALES, default="en") if accept_languages else "en"


def t(locale: str, key: str, **values) -> str:
    text = TEXT.get(locale, TEXT["en"]).get(key) or TEXT["en"][key]
    return text.format(**values) if values else text


def format_when(value: datetime | None, locale: str) -> str:
    """'22 Nov 2026 09:30 UTC' (or the Italian month)."""
    if value is None:
        return ""
    return f"{value.day} {_MONTHS[locale][value.month - 1]} {value.year} {value:%H:%M} UTC"


def format_day(value: date, locale: str) -> str:
    return f"{value.day} {_MONTHS[locale][value.month - 1]} {value.year}"
