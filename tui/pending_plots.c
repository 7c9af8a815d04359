/* pending_plots.c — stands in for tui/screen_plots.c while that screen is being
 * written on its own branch; deleted when the screen lands. */
#include <config.h>

#include "app.h"

static void pending_draw(void *self, fw_app *app, int top, int h, int w)
{
    (void)self, (void)h;
    fw_draw_text(app, top + 1, 2, w - 4, FW_ROLE_DIM, 0, "Plots: being written");
}

const fw_screen_ops fw_screen_plots = {.title = "Plots", .hints = "", .draw = pending_draw};
