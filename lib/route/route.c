/* route/route.c - placeholder until the route table lands. */
#include "route/route.h"
