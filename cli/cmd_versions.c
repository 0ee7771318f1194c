/* bookrec versions (being written). */
#include "cli.h"

int cmd_versions(int argc, char **argv)
{
    cli_die("versions: not built yet");
}
