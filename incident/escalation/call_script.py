"""What a paging call says, in the engineer's language. Pure: the caller passes the facts and the locale.

The words are plain text; the TwiML builder (twilio's VoiceResponse) escapes them.
"""
from __future__ import annotations

from .messages import PageFacts

TITLE = 200   # a title read aloud for longer than this is noise

LINES: dict[str, dict[str, str]] = {
    "en": {
        "page": "This is Tocsin. {reference}, severity {severity}: {title}. You are paged at level {level}.",
        "prompt": "Press 1 to acknowledge. Press any other key to hear this again.",
        "first": "Acknowledged {reference}. Thank you. Goodbye.",
        "duplicate": "{reference} was already acknowledged; yours is noted too. Goodbye.",
        "not_allowed": "Your Tocsin role cannot acknowledge pages, so this was not recorded. Goodbye.",
        "unknown_sender": "This phone is not on Tocsin's staff, so this was not recorded. Goodbye.",
        "not_found": "Tocsin has no such incident. Goodbye.",
        "settled": "{reference} has already been acknowledged. Goodbye.",
        "resolved": "{reference} is resolved. Goodbye.",
        "gone": "This page is no longer open. Goodbye.",
        "other_key": "That key does nothing here.",
        "no_input": "No key was pressed. Goodbye.",
    },
    "it": {
        "page": "Qui Tocsin. {reference}, gravità {severity}: {title}. Sei chiamato al livello {level}.",
        "prompt": "Premi 1 per prendere in carico. Premi un altro tasto per riascoltare.",
        "first": "{reference} preso in carico. Grazie. Arrivederci.",
        "duplicate": "{reference} era già stato preso in carico; anche la tua conferma è registrata. Arrivederci.",
        "not_allowed": "Il tuo ruolo in Tocsin non può prendere in carico le chiamate, quindi non è stato registrato. "
                       "Arrivederci.",
        "unknown_sender": "Questo telefono non è dello staff di Tocsin, quindi non è stato registrato. Arrivederci.",
        "not_found": "Tocsin non ha questo incidente. Arrivederci.",
        "settled": "{reference} è già stato preso in carico. Arrivederci.",
        "resolved": "{reference} è risolto. Arrivederci.",
        "gone": "Questa chiamata non è più aperta. Arrivederci.",
        "other_key": "Quel tasto non fa nulla.",
        "no_input": "Nessun tasto premuto. Arrivederci.",
    },
    "fr": {
        "page": "Ici Tocsin. {reference}, gravité {severity} : {title}. Vous êtes appelé au niveau {level}.",
        "prompt": "Appuyez sur 1 pour prendre en charge. Appuyez sur une autre touche pour réécouter.",
        "first": "{reference} pris en charge. Merci. Au revoir.",
        "duplicate": "{reference} était déjà pris en charge ; votre confirmation est notée aussi. Au revoir.",
        "not_allowed": "Votre rôle dans Tocsin ne permet pas de prendre en charge les appels ; rien n'a été "
                       "enregistré. Au revoir.",
        "unknown_sender": "Ce téléphone n'appartient pas à l'équipe Tocsin ; rien n'a été enregistré. Au revoir.",
        "not_found": "Tocsin ne connaît pas cet incident. Au revoir.",
        "settled": "{reference} a déjà été pris en charge. Au revoir.",
        "resolved": "{reference} est résolu. Au revoir.",
        "gone": "Cet appel n'est plus ouvert. Au revoir.",
        "other_key": "Cette touche ne fait rien ici.",
        "no_input": "Aucune touche n'a été pressée. Au revoir.",
    },
    "de": {
        "page": "Hier ist Tocsin. {reference}, Schweregrad {severity}: {title}. Sie werden auf Stufe {level} "
                "alarmiert.",
        "prompt": "Drücken Sie 1, um zu bestätigen. Drücken Sie eine andere Taste, um dies erneut zu hören.",
        "first": "{reference} bestätigt. Danke. Auf Wiederhören.",
        "duplicate": "{reference} war bereits bestätigt; Ihre Bestätigung ist ebenfalls vermerkt. Auf Wiederhören.",
        "not_allowed": "Ihre Rolle in Tocsin darf Alarme nicht bestätigen; nichts wurde vermerkt. Auf Wiederhören.",
        "unknown_sender": "Dieses Telefon gehört nicht zum Tocsin-Team; nichts wurde vermerkt. Auf Wiederhören.",
        "not_found": "Tocsin kennt diesen Vorfall nicht. Auf Wiederhören.",
        "settled": "{reference} wurde bereits bestätigt. Auf Wiederhören.",
        "resolved": "{reference} ist behoben. Auf Wiederhören.",
        "gone": "Dieser Alarm ist nicht mehr offen. Auf Wiederhören.",
        "other_key": "Diese Taste hat hier keine Funktion.",
        "no_input": "Es wurde keine Taste gedrückt. Auf Wiederhören.",
    },
    "es": {
        "page": "Le habla Tocsin. {reference}, gravedad {severity}: {title}. Se le avisa en el nivel {level}.",
        "prompt": "Pulse 1 para confirmar. Pulse cualquier otra tecla para volver a escucharlo.",
        "first": "{reference} confirmado. Gracias. Adiós.",
        "duplicate": "{reference} ya estaba confirmado; su confirmación también queda registrada. Adiós.",
        "not_allowed": "Su rol en Tocsin no permite confirmar avisos; no se ha registrado nada. Adiós.",
        "unknown_sender": "Este teléfono no pertenece al equipo de Tocsin; no se ha registrado nada. Adiós.",
        "not_found": "Tocsin no conoce este incidente. Adiós.",
        "settled": "{reference} ya ha sido confirmado. Adiós.",
        "resolved": "{reference} está resuelto. Adiós.",
        "gone": "Este aviso ya no está abierto. Adiós.",
        "other_key": "Esa tecla no hace nada aquí.",
        "no_input": "No se ha pulsado ninguna tecla. Adiós.",
    },
}
# The voice Twilio's <Say> speaks each language with.
SAY_LANGUAGE = {"en": "en-US", "it": "it-IT", "fr": "fr-FR", "de": "de-DE", "es": "es-ES"}


def call_locale(*preferred: str | None) -> str:
    """The first of these BCP 47 tags (the staff member's, then the default) whose language a call speaks; else en."""
    for tag in preferred:
        language = (tag or "").replace("_", "-").split("-")[0].strip().lower()
        if language in LINES:
            return language
    return "en"


def line(key: str, locale: str, **facts: str) -> str:
    """One sentence of the call in `locale` (a locale call_locale gave)."""
    return LINES[locale][key].format(**facts)


def spoken_page(facts: PageFacts, locale: str) -> str:
    """The page read aloud: reference, severity, title, level."""
    title = facts.title if len(facts.title) <= TITLE else facts.title[: TITLE - 1].rstrip() + "…"
    severity = facts.severity.removeprefix("SEV")   # "severity 1" reads better than "S E V 1"
    return line("page", locale, reference=facts.reference, severity=severity, title=title, level=facts.level)
