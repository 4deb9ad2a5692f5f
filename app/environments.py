"""The environments every connection, cursor, link and run belongs to. A flow runs in one of them;
its connections are looked up by (name, environment), so the sandbox never reaches production."""

ENVIRONMENTS = ("sandbox", "production")
# How a sentence names each: "Dry run in the sandbox", "… in production".
IN_WORDS = {"sandbox": "the sandbox", "production": "production"}
