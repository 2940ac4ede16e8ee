// redisCommand is variadic and does not import into Swift; use redisCommandArgv.
#include <hiredis/hiredis.h>
