/* bookrec publish (being written). */
#include "cli.h"

int cmd_publish(int argc, char **argv)
{
    cli_die("publish: not built yet");
}
