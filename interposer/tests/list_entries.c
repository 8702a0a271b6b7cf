/* list_entries.c — prints the name of every row of the entry-point table
 * (../entries.c), one a line, for check_entries.py.  Needs no interposer. */
#include <stdio.h>

#include "entries.h"

int main(void)
{
	for (size_t i = 0; i < n_entries; i++)
		puts(entries[i].fn);
	return 0;
}
