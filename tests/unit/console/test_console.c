/* The web console's routing test and its compiled-in files (gateway/console, tools/embed.sh). */
#include <criterion/criterion.h>
#include <string.h>

#include "console/console_int.h"

static int wants(const char *path)
{
    http_reqinfo_t info = {.path = og_str(path)};
    return console_wants(&info);
}

Test(console, takes_only_its_own_prefix)
{
    cr_assert(wants("/_console"));
    cr_assert(wants("/_console/"));
    cr_assert(wants("/_console/console.js"));
    cr_assert(wants("/_console/api/cluster"));
    /* A bucket or container that merely starts alike stays S3's or Swift's. */
    cr_assert_not(wants("/_consoles"));
    cr_assert_not(wants("/_console_x/k"));
    cr_assert_not(wants("/console/index.html"));
    cr_assert_not(wants("/v1/AUTH_a/_console/x"));
    cr_assert_not(wants("/"));
}

static const console_asset_t *asset(const char *name)
{
    for (size_t i = 0; i < console_nassets; i++)
        if (strcmp(console_assets[i].name, name) == 0)
            return &console_assets[i];
    return NULL;
}

/* Every file the page loads is compiled in, byte for byte, with its NUL terminator outside len. */
Test(console, page_and_its_files_are_compiled_in)
{
    const console_asset_t *page = asset("index.html");
    cr_assert_not_null(page);
    cr_assert_eq(page->data[page->len], '\0');
    const char *html = (const char *)page->data;
    const char *refs[] = {"console.css", "console.js", "sigv4.js"};
    for (size_t i = 0; i < sizeof(refs) / sizeof(refs[0]); i++) {
        const console_asset_t *a = asset(refs[i]);
        cr_assert_not_null(a, "%s", refs[i]);
        cr_assert_gt(a->len, 500u);
        cr_assert_eq(strlen((const char *)a->data), a->len, "%s holds no NUL byte", refs[i]);
        cr_assert_not_null(strstr(html, refs[i]), "index.html loads %s", refs[i]);
    }
    /* The CSP forbids inline scripts and styles: the page must not rely on any. */
    cr_assert_null(strstr(html, "<script>"));
    cr_assert_null(strstr(html, "style="));
    cr_assert_null(strstr(html, "onclick"));
}
