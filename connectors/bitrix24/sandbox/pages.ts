// What sits in front of a real portal when things go wrong: an HTML login page
// answered with 200 (an expired cloud session or a captive proxy) and a proxy's
// own 503 page. Neither is JSON, and the connector must not mistake them for data
// or for the portal's rate limit.

export const loginPageHtml = `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Bitrix24 - Authorization</title></head>
<body>
  <form method="post" action="/auth/">
    <h1>Sign in to Bitrix24</h1>
    <input name="USER_LOGIN" placeholder="Login"><input name="USER_PASSWORD" type="password" placeholder="Password">
    <button type="submit">Log in</button>
  </form>
</body>
</html>
`;

export const gatewayUnavailableHtml = `<html>
<head><title>503 Service Temporarily Unavailable</title></head>
<body>
<center><h1>503 Service Temporarily Unavailable</h1></center>
<hr><center>nginx</center>
</body>
</html>
`;
