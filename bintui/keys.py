"""Every key binding's id, for the `[keys]` table of the settings and the help screen.

A coordinator can give any action another key in the settings file:

    [keys]
    "desk.claim" = "t"
    "desk.send" = "ctrl+enter,ctrl+s"

The ids are listed here so that a typo in the settings is reported at start-up (a test keeps
this list equal to the bindings the screens declare).
"""

from __future__ import annotations

from textual.binding import BindingType

BINDING_IDS: tuple[str, ...] = (
    "app.help",
    "app.desk",
    "app.police",
    "app.composer",
    "app.overview",
    "app.reconnect",
    "app.logout",
    "app.quit",
    "app.palette",
    "desk.send",
    "desk.next_unread",
    "desk.focus_list",
    "desk.focus_composer",
    "desk.claim",
    "desk.status",
    "desk.category",
    "desk.forward",
    "desk.block",
    "desk.search",
    "desk.filter",
    "desk.sort",
    "desk.view_image",
    "desk.save_image",
    "desk.clear_search",
    "police.publish",
    "composer.preview",
    "composer.confirm",
    "composer.stop",
    "overview.stats",
    "screen.back",
    "forward.submit",
    "filter.apply",
    "dialog.choose",
    "dialog.cancel",
    "help.close",
    "image.close",
    "login.cancel",
    "identity.later",
)


def help_sections() -> list[tuple[str, list[BindingType]]]:
    """(section name, bindings) for the help screen, in the order a coordinator meets them."""
    from .app import BinTuiApp
    from .screens.actions import (
        ChoiceList,
        ChoiceScreen,
        FilterScreen,
        ForwardScreen,
        ImageScreen,
    )
    from .screens.composer import ComposerScreen
    from .screens.desk import DeskScreen, SearchInput
    from .screens.overview import OverviewScreen
    from .screens.police import PoliceScreen
    from .widgets.report_table import ReportTable

    return [
        ("everywhere", list(BinTuiApp.BINDINGS)),
        ("list", list(ReportTable.BINDINGS) + list(SearchInput.BINDINGS)),
        ("desk", list(DeskScreen.BINDINGS)),
        (
            "dialog",
            list(ChoiceList.BINDINGS) + list(ChoiceScreen.BINDINGS) + list(ImageScreen.BINDINGS),
        ),
        ("forward", list(ForwardScreen.BINDINGS)),
        ("filter", list(FilterScreen.BINDINGS)),
        ("police", list(PoliceScreen.BINDINGS)),
        ("composer", list(ComposerScreen.BINDINGS)),
        ("overview", list(OverviewScreen.BINDINGS)),
    ]
