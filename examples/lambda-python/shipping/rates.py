# (carrier, base cost, cost per item) by country; "*" for the rest.
RATES = {
    "DE": ("DHL", 4.90, 0.50),
    "FR": ("Colissimo", 5.50, 0.40),
    "US": ("UPS", 9.00, 1.00),
    "*": ("Post", 12.00, 1.50),
}
FREE_ABOVE = 100
