// Debian installs libpq's headers under postgresql/; postgres_ext.h is found beside libpq-fe.h.
#include <postgresql/libpq-fe.h>
