/* bookrec serve (being written). */
#include "cli.h"

int cmd_serve(int argc, char **argv)
{
    cli_die("serve: not built yet");
}
