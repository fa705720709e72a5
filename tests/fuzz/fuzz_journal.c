/* Fuzz target: the state journal (hp_journal__parse) and its replay
 * (hp_journal__applied, hp_journal__unfinished). The journal lives in a
 * root-owned directory, but it is what rollback and status trust to decide
 * what to write into files and processes, so a corrupt one (a crash, a full
 * disk, a careless edit) must be refused by line, never misread. */
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct hp_journal_rec **recs = NULL;
	struct hp_journal *j = NULL;
	size_t i, n = 0, count;

	if (hp_journal__parse((const char *)data, size, "fuzz-journal", &j))
		return 0;
	count = hp_journal__count(j);
	for (i = 0; i < count; i++) {
		const struct hp_journal_rec *r = hp_journal__get(j, i);

		(void)hp_journal_rec__detail(r, "functions");
		(void)hp_journal_action__str(r->action);
		(void)hp_journal_kind__str(r->kind);
		(void)hp_journal_step__str(r->step);
	}
	(void)hp_journal__torn_line(j);
	if (!hp_journal__applied(j, &recs, &n))
		free(recs);
	recs = NULL;
	if (!hp_journal__unfinished(j, &recs, &n))
		free(recs);
	hp_journal__free(j);
	return 0;
}
