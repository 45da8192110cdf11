from django import forms


class KeyCreateForm(forms.Form):
    name = forms.CharField(max_length=100, strip=True)
