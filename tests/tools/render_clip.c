/* tests/tools/render_clip.c: renders a clip with the builtin engine's renderer, for tests
 * that need real MP4 bytes from somewhere else than the worker (the fake engine's content).
 *   render_clip OUT.mp4 [SECONDS] [ASPECT] [standard|pro] [COMMENT]
 * Not a product command: flickd renders through media/engine.h. */
#include "media/avlog.h"
#include "media/render.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 6) {
        fprintf(stderr, "usage: render_clip OUT.mp4 [SECONDS] [ASPECT] [standard|pro] [COMMENT]\n");
        return 2;
    }
    media_avlog_install();
    media_render_params p;
    memset(&p, 0, sizeof p);
    p.prompt = "a fixture clip for the fake engine";
    p.seconds = argc > 2 ? atoi(argv[2]) : 4;
    p.aspect = argc > 3 ? argv[3] : "9:16";
    p.quality = argc > 4 && strcmp(argv[4], "pro") == 0 ? MEDIA_QUALITY_PRO : MEDIA_QUALITY_STANDARD;
    p.creator = "fake_engine";
    p.comment = argc > 5 ? argv[5] : NULL;
    char err[256];
    if (media_render_clip(&p, argv[1], err, sizeof err) != 0) {
        fprintf(stderr, "render_clip: %s\n", err);
        return 1;
    }
    return 0;
}
