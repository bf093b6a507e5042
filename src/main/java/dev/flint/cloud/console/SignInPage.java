package dev.flint.cloud.console;

/**
 * The only page a browser that is not signed in gets: a plain HTML form, no script, so nothing of the
 * console's application is served before sign-in.
 */
final class SignInPage {

    private SignInPage() {}

    static String html(String message) {
        String notice = message == null ? "" : "<p class=\"error\" role=\"alert\" id=\"signin-error\">" + escape(message) + "</p>";
        return """
                <!doctype html>
                <html lang="en">
                <head>
                <meta charset="utf-8">
                <meta name="viewport" content="width=device-width, initial-scale=1">
                <title>Sign in · Flint cloud console</title>
                <style>
                  body { font-family: system-ui, sans-serif; background: #f3f4f6; margin: 0; }
                  main { max-width: 26rem; margin: 12vh auto; background: #fff; padding: 2rem 2.2rem;
                         border-radius: 10px; box-shadow: 0 1px 4px rgba(0,0,0,.15); }
                  h1 { font-size: 1.3rem; margin: 0 0 .3rem; }
                  p.hint { color: #555; font-size: .9rem; margin: 0 0 1.2rem; }
                  label { display: block; font-size: .85rem; margin: .8rem 0 .25rem; color: #333; }
                  input { width: 100%; box-sizing: border-box; padding: .5rem; font: inherit;
                          border: 1px solid #bbb; border-radius: 5px; }
                  button { margin-top: 1.3rem; width: 100%; padding: .6rem; font: inherit; font-weight: 600;
                           color: #fff; background: #c2410c; border: 0; border-radius: 5px; cursor: pointer; }
                  .error { color: #b91c1c; background: #fef2f2; padding: .5rem .7rem; border-radius: 5px; }
                  code { font-size: .85rem; }
                </style>
                </head>
                <body>
                <main>
                <h1>Flint cloud console</h1>
                <p class="hint">Sign in with the daemon's credentials (<code>flint cloud env</code> prints them).</p>
                <!--notice-->
                <form method="post" action="/console/signin" autocomplete="off">
                  <label for="accessKeyId">Access key ID</label>
                  <input id="accessKeyId" name="accessKeyId" required autofocus>
                  <label for="secretAccessKey">Secret access key</label>
                  <input id="secretAccessKey" name="secretAccessKey" type="password" required>
                  <button id="signin" type="submit">Sign in</button>
                </form>
                </main>
                </body>
                </html>
                """.replace("<!--notice-->", notice);
    }

    static String escape(String text) {
        StringBuilder out = new StringBuilder(text.length());
        for (char c : text.toCharArray()) {
            switch (c) {
                case '<' -> out.append("&lt;");
                case '>' -> out.append("&gt;");
                case '&' -> out.append("&amp;");
                case '"' -> out.append("&quot;");
                case '\'' -> out.append("&#39;");
                default -> out.append(c);
            }
        }
        return out.toString();
    }
}
